"""healthbot: a health-information and referral chat-bot for young people in Kenya."""
