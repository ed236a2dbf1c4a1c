"""Field data: the CloudTrail record schema and each SIEM's names for its fields."""
