"""``python -m api`` runs the ``edgenas`` command line."""

from api.cli import main

main()
