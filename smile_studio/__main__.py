from smile_studio.cli import main

raise SystemExit(main())
