from holdall.cli import main

main()
