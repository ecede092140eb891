from apps.sentiment.cli import main

main()
