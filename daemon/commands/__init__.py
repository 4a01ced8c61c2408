"""The command line: `cli` parses it; one thin module per subcommand does the job by
calling the packages that hold the work. Commands never import each other."""
