"""One module per `kubetfx` command: `NAME`, `add_arguments(commands)` adding its subparser (its
flags and their help), and `main(args)` running it. `kubetfx.cli` builds the parser from them and
dispatches; nothing heavy is imported before a command runs."""
