"""``python -m dicomfab``: the command line, as the ``dicomfab`` script runs it."""

from dicomfab.cli import main

if __name__ == "__main__":
    main()
