"""Project commands (``COMMANDS_MODULE``): ``scrape`` and ``demo``."""
