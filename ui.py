"""Gradio app (issue 4). Until it lands, this entry point says how to use the CLI."""
import sys

if __name__ == "__main__":
    print("The web app is not built yet. Use the command line:\n"
          "  .venv/bin/policyqa ask \"2022年北京全年专利授权量是多少？\"\n"
          "  .venv/bin/policyqa search 专利授权量", file=sys.stderr)
    sys.exit(2)
