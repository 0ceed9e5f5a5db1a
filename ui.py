"""The web app's entry point: `python ui.py [--host 127.0.0.1] [--port 7860] [--index DIR]`,
the same as `policyqa serve` (the app itself is app/gradio_app.py)."""
import sys

from cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
