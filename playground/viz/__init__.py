"""Figure builders: pure functions from metrics/arrays to Altair or Plotly objects."""
