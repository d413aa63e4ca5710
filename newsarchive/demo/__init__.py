"""The built-in demo content, shipped inside the package."""
