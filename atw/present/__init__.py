"""Presentation: charts, the HTML report, CSV/JSON tables, folder export, the world map."""
