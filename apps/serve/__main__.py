from apps.serve.cli import main

main()
