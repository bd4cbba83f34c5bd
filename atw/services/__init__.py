"""Beside the web app: upload store and worker, upload retention, the on-demand classifier."""
