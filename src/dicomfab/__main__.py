"""``python -m dicomfab``: the command line, as the ``dicomfab`` script runs it."""

from dicomfab.console import main

if __name__ == "__main__":
    main()
