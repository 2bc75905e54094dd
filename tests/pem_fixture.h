/* pem_fixture.h -- a throwaway self-signed certificate (CN=test, EC P-256) and its private key,
 * made for these tests only and used nowhere else, for checks of files that must hold PEM
 * certificates and keys. */
#ifndef PEM_FIXTURE_H
#define PEM_FIXTURE_H

static const char PEMFX_CERT[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBdTCCARugAwIBAgIUEgIVb7WmuYyREH4L5G4tRf9IJbwwCgYIKoZIzj0EAwIw\n"
    "DzENMAsGA1UEAwwEdGVzdDAgFw0yNjEyMDQxMzI3MzZaGA8yMTI2MTExMDEzMjcz\n"
    "NlowDzENMAsGA1UEAwwEdGVzdDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABAut\n"
    "SQEQm1g1LklWHqZm5iNr5xmsSe0FQQgpfs/HDH7nZ47quE322Tru7LEJoLoWm+UV\n"
    "Yb6DDRctPTVzgRHvPjyjUzBRMB0GA1UdDgQWBBStac1l7h1nNL3jfDXvsRcTRSsD\n"
    "ETAfBgNVHSMEGDAWgBStac1l7h1nNL3jfDXvsRcTRSsDETAPBgNVHRMBAf8EBTAD\n"
    "AQH/MAoGCCqGSM49BAMCA0gAMEUCIQD5Dshm2sSvOVM5CnwDrrqE22fg2IBPLObz\n"
    "KquA1fgo4AIgecSjySoxDaut5W0neqIoFqCWukAl7MCehh8oV0WpzC0=\n"
    "-----END CERTIFICATE-----\n";

static const char PEMFX_KEY[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg/nwOoPXf/PYHcktg\n"
    "QgooP5CFmWzJbhGFIsjtUvpxXEqhRANCAAQLrUkBEJtYNS5JVh6mZuYja+cZrEnt\n"
    "BUEIKX7Pxwx+52eO6rhN9tk67uyxCaC6FpvlFWG+gw0XLT01c4ER7z48\n"
    "-----END PRIVATE KEY-----\n";

#endif
