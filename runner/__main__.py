"""``python -m runner``: the same as the `wsrun` command."""

from runner.cli import entry

if __name__ == "__main__":
    entry()
