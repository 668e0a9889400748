"""`python -m scim …`: the operator CLI (also installed as `scim-admin`)."""

from scim.cli import main

main(prog_name="python -m scim")
