"""``python -m dicomfab``: the command line, as the ``dicomfab`` script runs it."""

from dicomfab.console import run

if __name__ == "__main__":
    run()
