import { NotFoundException } from '@nestjs/common';

/** The 404 of a device id the registry does not know; the id is cut to 64 characters in the message. */
export function deviceNotFound(id: string): NotFoundException {
  return new NotFoundException({
    statusCode: 404,
    error: 'Not Found',
    message: `No device "${id.slice(0, 64)}"`,
  });
}
