"""The web app (a shell over `assistant`): Gradio wiring (gradio_app), its HTML (render,
with static/app.css and static/app.js) and its service (service: uploads, the library).

Importing the package turns Gradio's analytics and the model hubs off before gradio is
imported anywhere below: nothing the app does leaves the machine.
"""
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
