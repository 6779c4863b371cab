"""Demo placeholder: replaced once the foundation pieces land."""
print("pybpf demo")
