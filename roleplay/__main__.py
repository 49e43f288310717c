"""``python -m roleplay``: the same command as ``roleplay``, for environments without the script on PATH."""

from roleplay.cli import main

if __name__ == "__main__":
    main()
