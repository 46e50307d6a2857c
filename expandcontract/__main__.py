from expandcontract.cli import main

main()
