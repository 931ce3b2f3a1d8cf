mod connectwise;
