"""``python -m atlas.cli`` runs the ``atlas`` command."""

from atlas.cli import main

main()
