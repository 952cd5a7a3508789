"""Training Playground's engine: data, models, training, inspection. Importable without Streamlit."""
__version__ = "0.1.0"
