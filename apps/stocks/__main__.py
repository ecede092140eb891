from apps.stocks.cli import main

main()
