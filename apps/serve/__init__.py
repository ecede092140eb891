"""`python -m apps.serve`: the exported models over TensorFlow Serving's REST API."""
