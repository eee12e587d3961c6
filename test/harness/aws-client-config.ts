// SDK client settings for talking to a local AWS emulator: a fixed region and dummy keys,
// because moto accepts any signature but the SDK still signs every request.
export function awsClientConfig(endpoint: string) {
  return {
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  };
}
