import requests

GATEWAY_URL = "http://localhost:8935"
MODEL_ID = "green-tint-cpu"

# Black 640x480 RGB frame
frame = bytes(640 * 480 * 3)

response = requests.post(
    f"{GATEWAY_URL}/live/video-to-video",
    headers={
        "Content-Type": "application/octet-stream",
        "X-Model-Id": MODEL_ID,
    },
    data=frame,
)

print(f"Status: {response.status_code}")
print(f"Response size: {len(response.content)} bytes")

# Confirm the green-channel boost happened
g_channel_sum = sum(response.content[1::3])
print(f"Green channel sum: {g_channel_sum} (input was 0)")
