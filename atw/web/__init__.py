"""The web app: factory pieces, security, API keys, forms, the dashboard context and the views."""
