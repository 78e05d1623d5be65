"""``dicomfab ui``: a local web app over the same library functions as the command line.

    from dicomfab.web.app import create_app
    from dicomfab.web.settings import UISettings

The API contract is docs/web.md; the front end (web/, built into ``static/``) is served as is.
"""
