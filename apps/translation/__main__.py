from apps.translation.cli import main

main()
