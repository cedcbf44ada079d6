"""Finding plugin sources and loading them into private generations, validated."""
