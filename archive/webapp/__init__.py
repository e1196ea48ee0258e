"""`newsarchive serve`: a read-only web app over one archive (search, articles, captures, sources).

One more reader, like `query` and `sql`: route handlers in `app.py` stay thin and call the same
`archive/` functions the CLI calls. Archived strings are hostile: templates escape everything,
the app's pages carry a strict Content-Security-Policy, and archived pages are served only under
`/captured/`, sandboxed (`Content-Security-Policy: sandbox`, no scripts), a path the app's own
pages never use.
"""
