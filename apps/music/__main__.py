from apps.music.cli import main

main()
