import sys

from rnn_derive.cli import main

sys.exit(main())
