"""`python -m tiation` runs the CLI."""

from tiation.cli.main import main

if __name__ == "__main__":
    main()
