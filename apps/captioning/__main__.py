from apps.captioning.cli import main

main()
