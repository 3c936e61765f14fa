"""Command line: `python -m bot [run|console|migrate|import-letterboxd|catalog load-csv]`."""

from bot.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
