"""The mentiondesk console (Textual) and its command line."""
