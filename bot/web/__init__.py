"""The web console for staff and, later, the web chat for young people."""
