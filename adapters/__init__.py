"""Networks in, replies out. No UI here: adapters know nothing of Textual."""
