"""Streamlit helpers shared by the pages. The engine (playground/) never imports this."""
