"""``python -m podium.cli`` runs the ``podium`` command."""

from podium.cli.main import main

main()
