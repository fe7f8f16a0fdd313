"""One module per resource: chat completions, images, image files, models, health, metrics
and the home page; api/app.py lists their handlers."""
