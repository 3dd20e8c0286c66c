"""placeholder"""
def read_rosinality(data):
    raise NotImplementedError
