print("registry")
