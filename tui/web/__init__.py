"""`mentiondesk web`: the console in a browser, behind a sign-in."""
