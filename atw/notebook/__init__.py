"""The archive in a notebook: Archive reads an atw index as pandas DataFrames (the `notebook`
extra), through the query layer the pages and the API use. Read-only; no Flask."""

from atw.notebook.archive import Archive
from atw.notebook.opening import ArchiveError

__all__ = ["Archive", "ArchiveError"]
